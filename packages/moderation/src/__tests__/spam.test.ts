import { describe, expect, it } from "vitest";
import {
  createModeration,
  createSpamCheck,
  DuplicateWindow,
  domainMatches,
  extractLinks,
  extractTags,
  floodScore,
  isModerationError,
  ModerationErrorCode,
  minHash,
  minHashSimilarity,
  normalizeText,
} from "../index.js";

describe("links and domains", () => {
  it("finds URLs and bare host names, also obfuscated ones, and not ordinary text", () => {
    const domains = (t: string) => extractLinks(t).map((l) => l.domain);
    expect(domains("see https://www.Example.com/path?q=1 and http://a.b.example.org:8080/x")).toEqual([
      "example.com",
      "a.b.example.org",
    ]);
    expect(domains("go to spam.shop now")).toEqual(["spam.shop"]);
    expect(domains("free coins at evil[.]com or evil(dot)net or evil dot io")).toEqual([
      "evil.com",
      "evil.net",
      "evil.io",
    ]);
    expect(domains("ｅｖｉｌ．ｃｏｍ")).toEqual(["evil.com"]); // fullwidth
    expect(domains("e.g. this is fine, i.e. no links. Mr. Smith at 10.30, version 1.2.3")).toEqual([]);
    expect(domains("mail me at someone@example.com")).toEqual([]);
    expect(domains("I like dot matrix printers")).toEqual([]);
  });

  it("matches a listed domain and its subdomains only", () => {
    expect(domainMatches("evil.com", "evil.com")).toBe(true);
    expect(domainMatches("a.b.evil.com", "evil.com")).toBe(true);
    expect(domainMatches("notevil.com", "evil.com")).toBe(false);
    expect(domainMatches("evil.com.example.org", "evil.com")).toBe(false);
  });

  it("counts distinct mentions and hashtags", () => {
    expect(extractTags("hi @Ann and @ann, @bob. #Fun #fun #travel2024 email@x.com a#b")).toEqual({
      mentions: ["ann", "bob"],
      hashtags: ["fun", "travel2024"],
    });
  });
});

describe("near-duplicates (MinHash)", () => {
  const base = "Win a free iPhone today!!! Click the link in my bio to claim your prize before it runs out";

  it("estimates similarity: identical 1, light edits high, unrelated low", () => {
    const sig = (t: string) => minHash(normalizeText(t));
    expect(minHashSimilarity(sig(base), sig(base))).toBe(1);
    expect(
      minHashSimilarity(sig(base), sig(base.replace("today", "t0day").replace("iPhone", "iPhone 15"))),
    ).toBeGreaterThan(0.6);
    expect(
      minHashSimilarity(sig(base), sig("The sunset over the harbour was lovely this evening, thanks for watching")),
    ).toBeLessThan(0.2);
  });

  it("finds near-duplicates within a bounded, time-limited window", () => {
    const window = new DuplicateWindow({ windowMs: 1000, maxEntries: 3 });
    expect(window.check({ id: "p1", author: "a", text: base, at: 0 })).toEqual([]);
    const hits = window.check({ id: "p2", author: "b", text: base.toUpperCase().replace("free", "FR EE"), at: 10 });
    expect(hits.map((h) => [h.id, h.author])).toEqual([["p1", "a"]]);
    expect(hits[0]?.similarity).toBeGreaterThan(0.7);
    // short texts are neither compared nor remembered
    expect(window.check({ id: "s1", author: "a", text: "lol", at: 20 })).toEqual([]);
    expect(window.check({ id: "s2", author: "b", text: "lol", at: 21 })).toEqual([]);
    expect(window.size).toBe(2);
    // out of the time window
    expect(window.check({ id: "p3", author: "c", text: base, at: 1005 })).toEqual([
      { id: "p2", author: "b", similarity: expect.any(Number), at: 10 },
    ]);
    // bounded: only the last 3 posts are kept
    for (let i = 0; i < 5; i++)
      window.check({
        id: `x${i}`,
        author: "z",
        text: `unrelated text number ${i} about gardening and tomatoes`,
        at: 1020 + i,
      });
    expect(window.size).toBe(3);
    expect(window.check({ id: "p4", author: "d", text: base, at: 1030 })).toEqual([]);
  });
});

describe("createSpamCheck", () => {
  const author = { id: "u1" };

  it("blocks listed domains, allows allowlisted ones, and counts links past maxLinks", async () => {
    const moderation = createModeration({
      checks: [
        createSpamCheck({
          blockDomains: ["evil.com"],
          allowDomains: ["reel.kit", "ok.evil.com"],
          maxLinks: 1,
          duplicates: false,
        }),
      ],
    });
    const comment = (text: string) => moderation.onComment({ id: "c", videoId: "v", author, text });
    const blocked = await comment("prizes at https://win.evil.com/now");
    expect(blocked.decision).toBe("hold");
    expect(blocked.reasonCodes).toEqual(["spam:blocked_domain"]);
    expect(blocked.signals[0]?.evidence).toEqual({ domains: ["win.evil.com"] });
    expect((await comment("docs at ok.evil.com and https://reel.kit/a https://reel.kit/b")).decision).toBe("allow");
    expect((await comment("one link a.com")).decision).toBe("allow");
    const two = await comment("a.com b.com");
    expect(two).toMatchObject({ decision: "limit", reasonCodes: ["spam:links"] });
    expect(two.signals[0]?.score).toBe(0.5);
    expect((await comment("a.com b.com c.com")).decision).toBe("hold"); // 0.5 + 0.4·(3 − 1 − 1)/1 = 0.9
  });

  it("flags mention and hashtag floods", async () => {
    const moderation = createModeration({
      checks: [createSpamCheck({ maxMentions: 3, maxHashtags: 4, duplicates: false })],
    });
    const mentions = (n: number) => Array.from({ length: n }, (_, i) => `@user${i}`).join(" ");
    const comment = (text: string) => moderation.onComment({ id: "c", videoId: "v", author, text });
    expect((await comment(mentions(3))).decision).toBe("allow");
    expect(await comment(mentions(4))).toMatchObject({ decision: "limit", reasonCodes: ["spam:mention_flood"] });
    expect((await comment(mentions(7))).decision).toBe("hold");
    const published = await moderation.beforePublish({
      id: "v",
      uploader: author,
      caption: "#a #b #c",
      hashtags: ["d", "e", "a"], // "a" counts once
    });
    expect(published).toMatchObject({ decision: "limit", reasonCodes: ["spam:hashtag_flood"] });
    expect(floodScore(3, 3)).toBe(0);
    expect(floodScore(4, 3)).toBe(0.5);
    expect(floodScore(7, 3)).toBeCloseTo(0.9);
  });

  it("flags the same text from many accounts and repeated posts from one", async () => {
    const spam = createSpamCheck();
    const moderation = createModeration({ checks: [spam], now: () => 1_000 });
    const text = "Follow me for daily crypto signals, 100% guaranteed profit every single day!";
    const from = (id: string, author: string, t = text) =>
      moderation.onComment({ id, videoId: "v", author: { id: author }, text: t });
    expect((await from("c1", "a")).decision).toBe("allow");
    const second = await from("c2", "b", text.replace("daily", "d a i l y"));
    expect(second).toMatchObject({ decision: "limit", reasonCodes: ["spam:duplicate"] });
    expect(second.signals[0]?.evidence).toMatchObject({ duplicates: 1, of: ["comment:c1"], authors: 1 });
    await from("c3", "c");
    expect((await from("c4", "d")).decision).toBe("hold"); // three near-duplicates
    const again = await moderation.onComment({
      id: "x2",
      videoId: "v",
      author: { id: "e" },
      text: "My own words about gardening and the tomatoes this year",
    });
    expect(again.decision).toBe("allow");
    const repeat = await moderation.onComment({
      id: "x3",
      videoId: "w",
      author: { id: "e" },
      text: "My own words about gardening and the tomatoes this year",
    });
    expect(repeat.reasonCodes).toEqual(["spam:repeated_post"]);
    expect(spam.window?.size).toBe(6);
  });

  it("rejects bad options with INVALID_OPTIONS", () => {
    for (const options of [
      { blockDomains: ["not a domain"] },
      { maxLinks: -1 },
      { duplicates: { similarity: 0 } },
      { duplicatesToHold: 1 },
      { nope: 1 },
    ]) {
      let code: string | undefined;
      try {
        createSpamCheck(options as never);
      } catch (error) {
        code = isModerationError(error) ? error.code : "other";
      }
      expect(code, JSON.stringify(options)).toBe(ModerationErrorCode.INVALID_OPTIONS);
    }
  });
});
