// The dashboard page served by a running simulation (issue 3 §6).
export { DashboardServer, DEFAULT_DASHBOARD_PORT, DASHBOARD_MESSAGES, DASHBOARD_INJECT_PATH, DASHBOARD_STATE_PATH } from './dashboard-server.js';
export type { DashboardOptions, DashboardTarget, DashboardState } from './dashboard-server.js';
export { DASHBOARD_SOURCE_MODULE_ID, parseDashboardInject } from './inject-message.js';
export type { DashboardInjectRequest, DashboardInjectResult } from './inject-message.js';
export { BODY_PREVIEW_BYTES } from './message-log.js';
export type { MessageView } from './message-log.js';
