import { describe, expect, it } from "vitest";
import {
  createTermMatcher,
  defaultTermLists,
  isModerationError,
  ModerationErrorCode,
  normalizeText,
  normalizeWords,
} from "../index.js";

const matcher = createTermMatcher(defaultTermLists);
const categories = (text: string) => [...new Set(matcher.match(text).map((m) => m.category))].sort();

describe("normalizeText", () => {
  it("undoes compatibility forms, invisible characters, diacritics, confusables, spacing and leetspeak", () => {
    const cases: Array<[string, string]> = [
      ["ＦＵＣＫ", "fuck"], // fullwidth
      ["𝐟𝐮𝐜𝐤 𝔣𝔲𝔠𝔨", "fuck fuck"], // mathematical bold / fraktur
      ["ⓕⓤⓒⓚ", "fuck"], // circled
      ["f\u200Bu\u200Cc\u200Dk\u2060", "fuck"], // zero-width space, non-joiner, joiner, word joiner
      ["f\u00ADuck\uFEFF", "fuck"], // soft hyphen, BOM
      ["fu\uFE0Fck", "fuck"], // variation selector
      ["fück fûck", "fuck fuck"], // diacritics
      ["fսck", "fuck"], // Armenian u
      ["ѕһіt", "shit"], // Cyrillic only, all lookalikes
      ["Ьitch", "bitch"], // Cyrillic soft sign among Latin letters
      ["ρоrn", "porn"], // Greek rho, Cyrillic o
      ["f u c k", "fuck"],
      ["f.u.c.k", "fuck"],
      ["f-u-c-k you", "fuck you"],
      ["sh1t", "shit"],
      ["$h!t", "shit"],
      ["a$$hole", "asshole"],
      ["b1tch3s", "bitches"],
      ["@ss", "ass"],
      ["$ h ! t", "shit"],
      ["Hello, World!", "hello world"],
      ["wow!! great!!!", "wow great"],
    ];
    for (const [input, want] of cases) expect(normalizeText(input), JSON.stringify(input)).toBe(want);
  });

  it("leaves numbers, genuine Cyrillic and Greek words, and other scripts alone", () => {
    expect(normalizeText("I scored 1337 points in 2024")).toBe("i scored 1337 points in 2024");
    expect(normalizeText("Привет, как дела?")).toBe("привет как дела");
    expect(normalizeText("Καλημέρα κόσμε")).toBe("καλημέρα κόσμε");
    expect(normalizeText("日本語のテキスト")).toBe("日本語のテキスト");
    expect(normalizeWords("  many   spaces\there ")).toEqual(["many", "spaces", "here"]);
    expect(normalizeText("")).toBe("");
  });
});

describe("term matching", () => {
  it("catches a list of evasions: homoglyphs, zero-width characters, spacing, leetspeak, stretching", () => {
    const evasions: Array<[string, string]> = [
      ["fuck this", "profanity"],
      ["ＦＵＣＫ this", "profanity"],
      ["𝐟𝐮𝐜𝐤", "profanity"],
      ["fսck", "profanity"], // Armenian
      ["fцck".replace("ц", "υ"), "profanity"], // Greek upsilon
      ["ВITCH", "profanity"], // Cyrillic capital ve
      ["ѕһіt", "profanity"], // all Cyrillic
      ["f\u200Buck", "profanity"],
      ["sh\u200Dit", "profanity"],
      ["f u c k", "profanity"],
      ["f.u.c.k off", "profanity"],
      ["s-h-i-t", "profanity"],
      ["sh1t", "profanity"],
      ["$h!t", "profanity"],
      ["b1tch", "profanity"],
      ["a$$hole", "profanity"],
      ["@sshole", "profanity"],
      ["fuuuuuck", "profanity"],
      ["shiiiiit", "profanity"],
      ["fucking hell", "profanity"],
      ["motherfucker", "profanity"],
      ["FüCK", "profanity"],
      ["p0rn", "sexual"],
      ["big c0ck", "sexual"],
      ["k y s", "harassment"],
      ["just kill yourse1f", "harassment"],
      ["k1ll urself", "harassment"],
      ["i will k i l l you", "violence"],
      ["i want to die", "self_harm"],
    ];
    const missed = evasions.filter(([text, category]) => !categories(text).includes(category));
    expect(missed).toEqual([]);
  });

  it("does not flag a list of innocent words that contain bad substrings (the Scunthorpe problem)", () => {
    const innocent = [
      "Scunthorpe United won",
      "a classic film",
      "we will assess the damage",
      "assessment",
      "a cocktail party",
      "cocktails at eight",
      "the peacock and the cockatoo",
      "Alfred Hitchcock",
      "the cockpit",
      "a cockroach",
      "shiitake mushrooms",
      "shitake",
      "pass the bass",
      "assassin's creed",
      "assume nothing",
      "cumbersome",
      "cucumber",
      "circumstance",
      "analysis",
      "therapist",
      "niggardly",
      "flame retardant",
      "spick and span",
      "Dickens",
      "hello world",
      "title",
      "skills and killer apps",
      "grape",
      "Sussex",
      "Essex",
      "arsenal",
      "bassist",
      "cocker spaniel",
      "buttress",
      "a Wankel engine",
      "Middlesex",
      "documentation",
      "shuttlecock",
      "glass",
    ];
    const flagged = innocent.filter((text) => matcher.match(text).length > 0);
    expect(flagged).toEqual([]);
  });

  it("reports the term, the normalised match and its offset, and scores a category by its worst term", () => {
    const matches = matcher.match("What the f.u.c.k, you b1tch");
    expect(matches.map((m) => [m.category, m.term, m.match])).toEqual([
      ["profanity", "fuck*", "fuck"],
      ["profanity", "bitch*", "bitch"],
    ]);
    expect(matches[0]?.index).toBe("what the ".length);
    const scores = matcher.scores("porn and a cumshot");
    expect(scores.get("sexual")?.score).toBe(0.8);
    expect(scores.get("sexual")?.matches.map((m) => m.term)).toEqual(["porn*", "cumshot*"]);
  });

  it("applies allowlists per category, with exact words and prefixes", () => {
    const m = createTermMatcher({
      sexual: { terms: ["*cock*"], allow: ["cocktail*", "peacock"] },
      other: { terms: ["*cock*"] },
    });
    expect(m.match("cocktails").map((x) => x.category)).toEqual(["other"]);
    expect(m.match("peacock").map((x) => x.category)).toEqual(["other"]);
    // "peacocks" is not the exact allowlisted word
    expect(m.match("peacocks").map((x) => x.category)).toEqual(["other", "sexual"]);
  });

  it("matches whole words unless a * opens the word, and needs a doubled letter where the term has one", () => {
    const m = createTermMatcher({ t: { terms: ["ass", "bad*", "*ugly"] } });
    expect(m.match("ass").length).toBe(1);
    expect(m.match("as").length).toBe(0);
    expect(m.match("asss").length).toBe(1);
    expect(m.match("badly").length).toBe(1);
    expect(m.match("notbad").length).toBe(0);
    expect(m.match("fugly").length).toBe(1);
    expect(m.match("uglyish").length).toBe(0);
  });

  it("rejects malformed lists with INVALID_OPTIONS", () => {
    for (const lists of [
      { Bad: { terms: ["x"] } },
      { ok: { terms: [] } },
      { ok: { terms: ["Upper"] } },
      { ok: { terms: ["a**"] } },
      { ok: { terms: [{ term: "x", score: 2 }] } },
      { ok: { terms: ["x"], allow: ["*x"] } },
    ]) {
      let code: string | undefined;
      try {
        createTermMatcher(lists as never);
      } catch (error) {
        code = isModerationError(error) ? error.code : "other";
      }
      expect(code, JSON.stringify(lists)).toBe(ModerationErrorCode.INVALID_OPTIONS);
    }
  });
});
