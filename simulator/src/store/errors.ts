/**
 * The store-and-forward catalogue. Keep docs/errors.md ("Simulator: store-and-forward") in step: a test
 * compares them.
 */
import { defineCatalogue } from '@ferry/deployment-manifests';

export const { catalogue: storeCatalogue, error: storeError } = defineCatalogue({
  FERRY_E_SIM_STORE_IO: { status: 500, hint: 'Check that the simulator workspace is writable and the disk is not full; the message names the store file and the SQLite error.' },
  FERRY_E_SIM_STORE_BUSY: { status: 503, hint: 'Another simulator process has this store open; stop it, or give this simulator another --name (each name has its own store).' },
  FERRY_E_SIM_STORE_CORRUPT: { status: 500, hint: 'The store file is damaged or is not a Ferry message store; move it aside (queued messages in it are lost) and start the simulator again.' },
  FERRY_E_SIM_STORE_SCHEMA: { status: 500, hint: 'The message store was written by a newer Ferry; upgrade Ferry, or start the simulator under another --name.' },
  FERRY_E_SIM_STORE_CLOSED: { status: 503, hint: 'The message store was closed (the simulator is stopping); retry against a running simulator.' },
  FERRY_E_SIM_STORE_INPUT_INVALID: { status: 400, hint: 'Internal callers: give a message with string properties and a byte body, and deliveries to non-empty endpoint names with an integer priority 0-9 and a non-negative time to live.' },
});
