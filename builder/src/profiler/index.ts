export { profile } from './profile.js';
export type { ProfileOptions, ProfileProgress, ProfileLevel, ProfileReport, ServeTarget } from './profile.js';
export { startServeProcess } from './serve-process.js';
export type { ServeCommand, ServeProcess } from './serve-process.js';
export { nearestRank } from './latency-stats.js';
export type { LatencySummary } from './latency-stats.js';
export type { Recommendation } from './recommendation.js';
export { formatProfileTable } from './profile-table.js';
export { profileTags } from './profile-tags.js';
