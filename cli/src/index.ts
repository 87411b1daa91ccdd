export { main, buildProgram } from './main.js';
export { cliCatalogue } from './errors.js';
export { renderReference } from './reference.js';
