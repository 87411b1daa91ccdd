/**
 * The model tags `ferry profile --save` stores: the recommendation and the throughput it rests on.
 * Values are plain decimal strings (tags are strings); figures that were not measured are left out.
 */
import type { ProfileReport } from './profile.js';

export function profileTags(report: ProfileReport): Record<string, string> {
  const tags: Record<string, string> = { 'profile.date': report.date };
  if (report.recommended) {
    tags['profile.cpu'] = String(report.recommended.cpuCores);
    tags['profile.memoryMb'] = String(report.recommended.memoryMb);
  }
  if (report.best) {
    tags['profile.qps'] = report.best.qps.toFixed(1);
    tags['profile.concurrency'] = String(report.best.concurrency);
    if (report.best.p99Ms !== null) tags['profile.p99Ms'] = report.best.p99Ms.toFixed(2);
  }
  return tags;
}
