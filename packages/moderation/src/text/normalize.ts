/**
 * Text normalisation for matching: undoes the usual ways people dress up a word to get it past a
 * filter, so term lists can be written once in plain lower-case Latin.
 *
 * Steps, in order:
 * 1. NFKC: fullwidth, mathematical, circled and other compatibility letters become plain ones
 *    (`ｆｕｃｋ`, `𝐟𝐮𝐜𝐤`, `ⓕⓤⓒⓚ` → `fuck`).
 * 2. Invisible characters are removed: zero-width space / joiners, word joiner, soft hyphen, BOM,
 *    bidi controls, variation selectors, Hangul fillers (every `\p{Cf}` and a few more).
 * 3. Diacritics on Latin letters are removed (`fück` → `fuck`); marks of other scripts are kept.
 * 4. Lower case.
 * 5. Confusable letters become Latin (Cyrillic `а е о р с у х і ѕ ј Ь`, Greek `α ο ρ ν τ κ ι`, Armenian
 *    `ս օ հ`, Latin `ı ł ø ß …`), but only inside a word that contains a Latin letter or consists of
 *    lookalikes only, so genuine Russian or Greek words are left alone.
 * 6. Spacing evasions: three or more one-character pieces in a row are joined (`f u c k`,
 *    `f.u.c.k`, `f-u-c-k` → `fuck`).
 * 7. Leetspeak, inside words that contain a letter: `0→o 1→i 3→e 4→a 5→s 7→t 8→b 9→g @→a $→s`, and
 *    `!→i`, `|→l` between two word characters (`sh1t`, `$h!t` → `shit`); number-only words stay.
 * 8. Everything that is not a letter or digit becomes a single space.
 *
 * Repeated letters (`fuuuuck`) are not collapsed here, since that would turn `ass` into `as`:
 * the term matcher lets each letter of a term stand for a run of that letter instead.
 */

const INVISIBLE = /\p{Cf}|\p{Variation_Selector}|\u034F|\u17B4|\u17B5|[\u115F\u1160\u3164\uFFA0]/gu;
const LATIN_MARKS = /(\p{Script=Latin})\p{M}+/gu;

/** Lookalike letters (after NFKC and lower-casing) and the Latin letter they imitate. */
const CONFUSABLES: Record<string, string> = {
  // Cyrillic
  а: "a",
  б: "b",
  в: "b",
  ь: "b",
  ъ: "b",
  с: "c",
  ԁ: "d",
  е: "e",
  ё: "e",
  є: "e",
  һ: "h",
  н: "h",
  і: "i",
  ї: "i",
  ӏ: "i",
  ј: "j",
  к: "k",
  м: "m",
  о: "o",
  р: "p",
  ԛ: "q",
  ѕ: "s",
  т: "t",
  у: "y",
  ү: "y",
  х: "x",
  ԝ: "w",
  ш: "w",
  п: "n",
  г: "r",
  // Greek
  α: "a",
  β: "b",
  ε: "e",
  η: "n",
  ι: "i",
  κ: "k",
  ν: "v",
  ο: "o",
  ρ: "p",
  τ: "t",
  υ: "u",
  χ: "x",
  γ: "y",
  ω: "w",
  // Armenian
  ս: "u",
  օ: "o",
  հ: "h",
  ո: "n",
  զ: "q",
  // Latin lookalikes that NFKC keeps
  ı: "i",
  ȷ: "j",
  ł: "l",
  ø: "o",
  đ: "d",
  ħ: "h",
  ŧ: "t",
  ƀ: "b",
  ɑ: "a",
  ɡ: "g",
  ɩ: "i",
  ʋ: "u",
  ß: "ss",
  æ: "ae",
  œ: "oe",
};

const LEET: Record<string, string> = {
  "0": "o",
  "1": "i",
  "3": "e",
  "4": "a",
  "5": "s",
  "7": "t",
  "8": "b",
  "9": "g",
  "@": "a",
  $: "s",
};
const LEET_INTERIOR: Record<string, string> = { "!": "i", "|": "l" };

// A piece: letters, digits and the symbols leetspeak uses. Everything else separates pieces.
const PIECE = /[\p{L}\p{M}\p{N}@$!|]+/gu;
const HAS_LETTER = /\p{L}/u;
const HAS_LATIN = /\p{Script=Latin}/u;
const IS_LETTER = /\p{L}/u;

const SCRIPTS = [/\p{Script=Cyrillic}/u, /\p{Script=Greek}/u, /\p{Script=Armenian}/u];
const scriptOf = (c: string) => SCRIPTS.findIndex((re) => re.test(c));

/**
 * Scripts the text is genuinely written in: those of words that contain a letter with no Latin
 * lookalike. A word made of lookalikes only in such a script (Russian "как") is left alone.
 */
function genuineScripts(pieces: readonly string[]): Set<number> {
  const scripts = new Set<number>();
  for (const piece of pieces) {
    if (HAS_LATIN.test(piece)) continue;
    for (const c of piece) if (IS_LETTER.test(c) && CONFUSABLES[c] === undefined) scripts.add(scriptOf(c));
  }
  return scripts;
}

function mapConfusables(piece: string, genuine: Set<number>): string {
  if (!HAS_LETTER.test(piece)) return piece;
  const chars = [...piece];
  if (!HAS_LATIN.test(piece)) {
    const letters = chars.filter((c) => IS_LETTER.test(c));
    if (!letters.every((c) => CONFUSABLES[c] !== undefined)) return piece;
    if (letters.some((c) => genuine.has(scriptOf(c)))) return piece;
  }
  return chars.map((c) => CONFUSABLES[c] ?? c).join("");
}

function mapLeet(piece: string): string {
  // A piece without a letter is a number (or stray symbols): keep digits, drop the symbols.
  if (!HAS_LETTER.test(piece)) return piece.replace(/[@$!|]/g, "");
  // `!` and `|` at either end are punctuation ("hello!"), not letters.
  const trimmed = piece.replace(/^[!|]+|[!|]+$/g, "");
  let out = "";
  for (const c of trimmed) out += LEET[c] ?? LEET_INTERIOR[c] ?? c;
  return out;
}

/** Join runs of three or more one-character pieces: `f u c k` → `fuck`. */
function joinSpaced(pieces: string[]): string[] {
  const out: string[] = [];
  let run: string[] = [];
  const flush = () => {
    if (run.length >= 3) out.push(run.join(""));
    else out.push(...run);
    run = [];
  };
  for (const p of pieces) {
    if ([...p].length === 1) run.push(p);
    else {
      flush();
      out.push(p);
    }
  }
  flush();
  return out;
}

/** The words of normalised text (see the module comment for the steps), in order. */
export function normalizeWords(text: string): string[] {
  const base = text
    .normalize("NFKC")
    .replace(INVISIBLE, "")
    .normalize("NFD")
    .replace(LATIN_MARKS, "$1")
    .normalize("NFC")
    .toLowerCase();
  const raw = base.match(PIECE) ?? [];
  const genuine = genuineScripts(raw);
  const pieces = raw.map((p) => mapConfusables(p, genuine));
  return joinSpaced(pieces)
    .map(mapLeet)
    .flatMap((w) => w.split(/[^\p{L}\p{M}\p{N}]+/u))
    .filter((w) => w !== "");
}

/**
 * Normalise text for matching: lower-case words separated by single spaces, with compatibility
 * forms, invisible characters, Latin diacritics, confusable letters, spacing evasions and
 * leetspeak undone. `normalizeText("Ｓ h ! t  f\u200Bսck")` → `"shit fuck"`.
 */
export function normalizeText(text: string): string {
  return normalizeWords(text).join(" ");
}
