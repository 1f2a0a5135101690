// One error type for everything a user can get wrong or that can fail visibly; the API maps it to
// `{error, message}` with its status, the CLI prints its message.
export class BerthError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details?: Record<string, unknown>;
  constructor(status: number, code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export const badRequest = (code: string, message: string) => new BerthError(400, code, message);
export const notFound = (message: string) => new BerthError(404, 'not_found', message);
export const conflict = (message: string) => new BerthError(409, 'conflict', message);
