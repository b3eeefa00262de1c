// Domain errors carry a stable code; the tRPC error formatter maps them to
// HTTP-ish tRPC codes and keeps `code` for clients and scripts.
export type DomainErrorCode =
  | "INVALID_INPUT"
  | "NOT_FOUND"
  | "CONFLICT"
  | "FORBIDDEN"
  | "UNAUTHORIZED"
  | "TOO_MANY_ATTEMPTS"
  | "PRECONDITION_FAILED"
  /** The disk under the data directory is full (server/errors/storage.ts). */
  | "STORAGE_FULL";

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "DomainError";
  }
}
