/**
 * Run async work one piece at a time, in call order: a piece starts once the previous one settled,
 * whether it resolved or threw, and each caller gets its own piece's outcome.
 */
export function serialQueue(): <T>(work: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(work: () => Promise<T>): Promise<T> => {
    const run = tail.then(work, work);
    tail = run.catch(() => {});
    return run;
  };
}
