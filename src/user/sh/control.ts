/** Exceptions the interpreter uses for non-local control flow (exit, set -e, break, continue). */

/** Thrown by `exit` and by `set -e` to end the (sub)shell with a status. */
export class ExitShell extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`);
  }
}

/** Thrown by `break`/`continue`; `levels` counts enclosing loops still to leave. */
export class LoopControl extends Error {
  constructor(
    readonly kind: 'break' | 'continue',
    readonly levels: number,
  ) {
    super(kind);
  }
}
