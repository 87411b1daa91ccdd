/**
 * Codes of the scoring client, batch scoring and the profiler. Keep docs/errors.md
 * ("Scoring client and profiler") in step: a test compares them. Statuses follow what a gateway would
 * answer for the same failure (502/503/504 for a service that cannot be used, 4xx for bad input).
 */
import { defineCatalogue } from '@ferry/module';

export const { catalogue: clientCatalogue, error: clientError } = defineCatalogue({
  FERRY_E_SERVICE_URL_INVALID: { status: 400, hint: 'Give the service as an http:// or https:// URL, e.g. http://127.0.0.1:8890 or http://127.0.0.1:8890/score.' },
  FERRY_E_SERVICE_UNREACHABLE: { status: 502, hint: 'Check the URL and that the service runs (`ferry serve ...`); GET <url>/healthz answers 200 once it is ready.' },
  FERRY_E_SERVICE_TIMEOUT: { status: 504, hint: 'The service did not answer in time: raise the client timeout, or lower the load or the size of each request.' },
  FERRY_E_SERVICE_BUSY: { status: 503, hint: 'The service kept answering 503 after the allowed retries: lower the concurrency, or give the service more capacity.' },
  FERRY_E_SERVICE_RESPONSE_INVALID: { status: 502, hint: 'The service answered something that is not the JSON it announced: check the URL points at a Ferry or Azure ML scoring service.' },
  FERRY_E_SCORE_REJECTED: { status: 502, hint: 'The service refused the request: details.status and details.code carry its answer; fix the request (docs/errors.md explains the code).' },
  FERRY_E_BATCH_INPUT_UNREADABLE: { status: 400, hint: 'Check the input path: it must be a readable JSON Lines file (one request body per line).' },
  FERRY_E_BATCH_LINE_INVALID: { status: 400, hint: 'Each input line must be one JSON request body; fix the line (its number is in the errors file) and run the batch again: only the missing lines are scored.' },
  FERRY_E_BATCH_OPTIONS_INVALID: { status: 400, hint: 'Give a positive integer concurrency (requests in flight at once).' },
  FERRY_E_BATCH_OUTPUT_INVALID: { status: 409, hint: 'The output file holds lines that batch scoring did not write (each line must be {"line": n, "result": ...}): choose another output path or remove the file.' },
  FERRY_E_BATCH_OUTPUT_UNWRITABLE: { status: 500, hint: 'Check the output and errors paths are writable and the disk is not full; rerun to resume where it stopped.' },
  FERRY_E_PROFILE_OPTIONS_INVALID: { status: 400, hint: 'Give at least one sample request, a positive duration and positive integer concurrency levels (e.g. 1,2,4,8).' },
  FERRY_E_PROFILE_SERVE_FAILED: { status: 502, hint: 'The serve process given to the profiler exited or never became ready (GET /healthz): run the same command by hand to see why.' },
});

export type ClientErrorCode = keyof typeof clientCatalogue;
