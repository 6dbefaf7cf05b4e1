// Server-rendering safety: nothing here touches `window`, `document` or `HTMLElement` at import
// time. Elements extend `ElementBase`, which is a plain class where there is no DOM.

/** `HTMLElement` in browsers; an inert class during server rendering or in Node. */
export const ElementBase: typeof HTMLElement =
  typeof HTMLElement === "undefined" ? (class {} as unknown as typeof HTMLElement) : HTMLElement;

/** Whether the code runs where elements can be defined. */
export const hasDom = (): boolean => typeof window !== "undefined" && typeof customElements !== "undefined";

/** Dispatch a typed, bubbling, composed CustomEvent from `target`. */
export function emit<T>(target: EventTarget, type: string, detail: T): void {
  target.dispatchEvent(new CustomEvent<T>(type, { detail, bubbles: true, composed: true }));
}

/** `localStorage`, or `undefined` where it is missing or refused (private mode, sandboxed frames). */
export function storage(): Storage | undefined {
  try {
    return typeof localStorage === "undefined" ? undefined : localStorage;
  } catch {
    return undefined;
  }
}

/** Whether the user asked for reduced motion. */
export const prefersReducedMotion = (): boolean =>
  typeof matchMedia !== "undefined" && matchMedia("(prefers-reduced-motion: reduce)").matches;

/** A random id (crypto.randomUUID where available). */
export function randomId(): string {
  if (typeof crypto !== "undefined" && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
