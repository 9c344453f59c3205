// What a run must undo however it ends (normally, by an error, on Ctrl-C, at the deadline).

/** An undo step; `interrupted` is true on Ctrl-C or at the deadline, when the process exits right after. */
export type Step = (interrupted: boolean) => void | Promise<void>;

/** A stack of undo steps, run once, newest first, each bounded in time. */
export class Cleanup {
  readonly #steps: { readonly what: string; readonly fn: Step }[] = [];
  #running: Promise<readonly string[]> | undefined;

  /** Adds a step; steps run in reverse order of adding. */
  add(what: string, fn: Step): void {
    this.#steps.push({ what, fn });
  }

  /**
   * Runs every step once, even when one fails or takes longer than `stepTimeoutMs`; a second
   * call (say, Ctrl-C during a normal end) waits for the same run. Resolves to the failures.
   */
  run(stepTimeoutMs: number, interrupted: boolean): Promise<readonly string[]> {
    this.#running ??= this.#runAll(stepTimeoutMs, interrupted);
    return this.#running;
  }

  async #runAll(stepTimeoutMs: number, interrupted: boolean): Promise<readonly string[]> {
    const failures: string[] = [];
    for (const step of this.#steps.reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`did not finish within ${String(stepTimeoutMs / 1000)} s`));
        }, stepTimeoutMs);
      });
      try {
        await Promise.race([Promise.resolve(interrupted).then(step.fn), timeout]);
      } catch (e) {
        failures.push(`${step.what}: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        clearTimeout(timer);
      }
    }
    this.#steps.length = 0;
    return failures;
  }
}
