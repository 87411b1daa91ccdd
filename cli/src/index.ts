export { main, buildProgram } from './main.js';
export { cliCatalogue } from './errors.js';
export { quickstartCatalogue } from './quickstart/errors.js';
export { renderReference } from './reference.js';
