/**
 * The model registry's error catalogue. Keep docs/errors.md ("Models and the registry") in step:
 * a test compares them. The registry also throws three codes declared once in the scoring
 * catalogue (@ferry/module), shared with the runtime: FERRY_E_MODEL_INVALID, FERRY_E_MODEL_NOT_FOUND
 * and FERRY_E_MODEL_REF_INVALID.
 */
import { FerryError, defineCatalogue, scoringCatalogue } from '@ferry/module';
import type { FerryErrorOptions } from '@ferry/module';

const SHARED = ['FERRY_E_MODEL_INVALID', 'FERRY_E_MODEL_NOT_FOUND', 'FERRY_E_MODEL_REF_INVALID'] as const;
type SharedCode = (typeof SHARED)[number];

export const { catalogue: registryCatalogue, error: ownError } = defineCatalogue({
  FERRY_E_MODEL_VERSION_REQUIRED: { status: 400, hint: 'Name the version as `name:version`; `ferry model list --name NAME` shows the versions.' },
  FERRY_E_MODEL_SOURCE_NOT_FOUND: { status: 404, hint: 'Check the path of the file or folder to register.' },
  FERRY_E_MODEL_SOURCE_UNREADABLE: { status: 400, hint: 'Check that every file under the path can be read by this user.' },
  FERRY_E_MODEL_SOURCE_EMPTY: { status: 400, hint: 'Register a folder that holds at least one file, or register the file itself.' },
  FERRY_E_MODEL_PATH_UNSAFE: { status: 400, hint: 'Replace symbolic links that point outside the folder (or nowhere) by the files themselves, then register again.' },
  FERRY_E_MODEL_FILE_UNSUPPORTED: { status: 400, hint: 'A model holds regular files and folders only: remove sockets, pipes and device files from the folder.' },
  FERRY_E_MODEL_FRAMEWORK_INVALID: { status: 400, hint: 'Use `onnx` or `custom` as the framework.' },
  FERRY_E_MODEL_TAG_INVALID: { status: 400, hint: 'Tag and property keys are 1 to 256 characters without `=` or control characters; values are at most 4096 characters without control characters.' },
  FERRY_E_MODEL_PROPERTY_IMMUTABLE: { status: 409, hint: 'Properties are add-only: choose a new key, or register a new version with the new value.' },
  FERRY_E_MODEL_IN_USE: { status: 409, hint: 'Remove the builds or deployments that use this version first, or delete with --force.' },
  FERRY_E_MODEL_USAGE_INVALID: { status: 400, hint: 'A usage is a kind (`build` or `deployment`) and a non-empty id of at most 256 characters.' },
  FERRY_E_DOWNLOAD_EXISTS: { status: 409, hint: 'Choose another output folder, remove what is there, or pass --overwrite.' },
  FERRY_E_REGISTRY_BUSY: { status: 503, hint: 'Another Ferry process holds the registry for too long; retry when it has finished.' },
  FERRY_E_REGISTRY_SCHEMA: { status: 500, hint: 'The workspace was written by a newer Ferry: upgrade Ferry, or use another workspace (FERRY_HOME or --workspace).' },
  FERRY_E_REGISTRY_IO: { status: 500, hint: 'Check the workspace folder (FERRY_HOME or --workspace) is writable and the disk is not full.' },
});

export type RegistryErrorCode = keyof typeof registryCatalogue | SharedCode;

/** A coded error of the registry's catalogue, or of the three codes it shares with the scoring runtime. */
export function registryError(code: RegistryErrorCode, reason: string, options?: FerryErrorOptions): FerryError {
  if ((SHARED as readonly string[]).includes(code)) return new FerryError(code, reason, scoringCatalogue[code as SharedCode], options);
  return ownError(code as keyof typeof registryCatalogue, reason, options);
}
