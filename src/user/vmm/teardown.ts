/**
 * What vmm start has set up so far, undone in reverse on failure (QEMU's
 * error paths: qemu_ram_free, kvm_destroy_vm, unlinking a backing file it
 * created), and the error type its steps throw.
 */

/** A setup step failed: `message` is QEMU's text; `location` the -object string it belongs to, if any. */
export class VmmError extends Error {
  constructor(
    message: string,
    readonly location: string | null = null,
  ) {
    super(message);
  }
}

/** A stack of undo actions. */
export class Teardown {
  private readonly undo: (() => void)[] = [];

  /** Remember how to undo the step just made. */
  push(fn: () => void): void {
    this.undo.push(fn);
  }

  /** Undo everything, last first; an undo step that fails does not stop the others. */
  run(): void {
    while (this.undo.length) {
      const fn = this.undo.pop()!;
      try {
        fn();
      } catch {
        // best effort, as on QEMU's exit path
      }
    }
  }
}
