/**
 * The dashboard's inject request (issue 3 §6): the body iotedgehubdev's `POST /api/v1/messages` takes
 * (solution/inject-request.ts) plus `moduleId`, made into the message edgeHub would deliver on that module input.
 */
import { simulatorError } from '../errors.js';
import { parseInjectRequest, type InjectRequest } from '../solution/inject-request.js';

/**
 * The origin module injected messages carry (`connectionModuleId`, `$.cmid` on the wire): a `$` name, as
 * `$edgeHub`, so no manifest module (their ids never start with `$`) can be mistaken for it.
 */
export const DASHBOARD_SOURCE_MODULE_ID = '$dashboard';

export interface DashboardInjectRequest extends InjectRequest {
  readonly moduleId: string;
}

export interface DashboardInjectResult {
  readonly moduleId: string;
  readonly inputName: string;
  readonly messageId: string;
}

/** Validates the body; FERRY_E_SIM_INJECT_INVALID when it is not a valid request. */
export function parseDashboardInject(body: unknown): DashboardInjectRequest {
  const request = parseInjectRequest(body);
  const moduleId = (body as Record<string, unknown>)['moduleId'];
  if (typeof moduleId !== 'string' || moduleId === '') throw simulatorError('FERRY_E_SIM_INJECT_INVALID', 'Cannot get moduleId in the request body (a non-empty string).');
  return { ...request, moduleId };
}
