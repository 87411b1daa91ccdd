import { defineCatalogue } from '@ferry/module';

/** Errors of `ferry quickstart` (issue 4 §5). Keep docs/errors.md ("Quick start") in step. */
export const { catalogue: quickstartCatalogue, error: quickstartError } = defineCatalogue({
  FERRY_E_QUICKSTART_INCOMPLETE: { status: 504, hint: 'Not every message the sensor sent was scored and reached the local IoT Hub in time (or the scorer never became ready). The summary and the module logs under <workspace>/simulations/quickstart/logs/ say where it stopped; raise --timeout on a slow machine.' },
});
