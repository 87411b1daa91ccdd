/** A coded error from any copy of the error machinery (structural check). */
export function isFerryErrorLike(e: unknown): e is Error & { code: string; reason: string; status: number } {
  if (!(e instanceof Error)) return false;
  const x = e as Error & { code?: unknown; status?: unknown; reason?: unknown };
  return typeof x.code === 'string' && x.code.startsWith('FERRY_E_') && typeof x.status === 'number' && typeof x.reason === 'string';
}
