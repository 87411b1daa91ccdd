import { defineCatalogue } from '@ferry/module';

/** Errors of the command line itself. Keep docs/errors.md ("Command line") in step. */
export const { catalogue: cliCatalogue, error: cliError } = defineCatalogue({
  FERRY_E_USAGE: { status: 400, hint: 'Run `ferry help <command>` to see its arguments and options.' },
  FERRY_E_INPUT_UNREADABLE: { status: 400, hint: 'Check the path and that the file holds JSON.' },
  FERRY_E_SERVICE_NOT_RUNNING: { status: 503, hint: 'Start it with `ferry serve <config>` or pass the service URL instead.' },
});
