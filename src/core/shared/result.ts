// The one "ok or error" type of the project. Pure code returns it instead of throwing for
// problems a user can cause; the error is a message a user can act on unless E says otherwise.
export type Result<T, E = string> = { ok: true; value: T } | { ok: false; error: E };
