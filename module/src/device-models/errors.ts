/**
 * The on-device model store and fetcher's catalogue (module/src/device-models). Keep docs/errors.md
 * ("On-device models") in step: test/integration/error-catalogue.test.ts compares them.
 */
import { defineCatalogue } from '../errors.js';

export const { catalogue: deviceModelCatalogue, error: deviceModelError } = defineCatalogue({
  FERRY_E_DEVICE_MODEL_INVALID: { status: 422, hint: 'Rebuild the models folder with DeviceModelStore.writeModel (or `ferry` image builds): every <name>/<version>/ folder needs a valid ferry-model.json and the model file(s) it names.' },
  FERRY_E_DEVICE_MODEL_NAME_INVALID: { status: 400, hint: 'Model names start with a letter or digit and use only letters, digits, `-`, `.` and `_`; versions are positive integers.' },
  FERRY_E_DEVICE_MODEL_SOURCE_NOT_FOUND: { status: 404, hint: 'Check the path of the model file or folder to store.' },
  FERRY_E_DEVICE_MODEL_PATH_UNSAFE: { status: 400, hint: 'Replace symbolic links that leave the model folder (or point to folders) by the files themselves; special files are not allowed.' },
  FERRY_E_DEVICE_MODEL_EXISTS: { status: 409, hint: 'That version is already in the models folder; store the new model under a higher version.' },
  FERRY_E_DEVICE_MODEL_IO: { status: 500, hint: 'Check that the models folder or model cache is writable and has free space.' },
  FERRY_E_DEVICE_MODEL_URL_INVALID: { status: 400, hint: 'Models are fetched over HTTPS only: give an absolute https:// URL (redirects must stay on https).' },
  FERRY_E_DEVICE_MODEL_HASH_INVALID: { status: 400, hint: 'Give the model\'s sha256 as 64 hexadecimal digits (what `sha256sum` prints).' },
  FERRY_E_DEVICE_MODEL_HASH_MISMATCH: { status: 422, hint: 'The downloaded bytes do not have the sha256 given with the URL; check both, the file on the server may have changed. Nothing was cached.' },
  FERRY_E_DEVICE_MODEL_HTTP_STATUS: { status: 502, hint: 'The model server did not answer 200 (the status is in the message and details.status); check the URL and the server.' },
  FERRY_E_DEVICE_MODEL_FETCH_TIMEOUT: { status: 504, hint: 'The model server stopped sending (idle timeout) or the download took longer than allowed (total timeout); check the server or raise the timeouts.' },
  FERRY_E_DEVICE_MODEL_TOO_LARGE: { status: 413, hint: 'The model is larger than the download limit (maxBytes); raise the limit or use a smaller model.' },
  FERRY_E_DEVICE_MODEL_FETCH_FAILED: { status: 502, hint: 'The download failed (network, TLS certificate or too many redirects; the cause is in the message); check the URL, the server and its certificate.' },
  FERRY_E_DEVICE_MODEL_FETCH_ABORTED: { status: 499, hint: 'The caller cancelled the download; nothing was cached.' },
});
