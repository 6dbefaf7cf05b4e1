import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpClassifierCheck, createModeration, isModerationError, ModerationErrorCode } from "../index.js";

// A real HTTP server standing in for an OpenAI-moderation-like service.
let server: Server;
let base: string;
const received: Array<{ path: string; body: unknown; headers: IncomingMessage["headers"] }> = [];

function scoresFor(texts: string[]): Record<string, number> {
  const all = texts.join(" ");
  return {
    hate: all.includes("hateful") ? 0.98 : 0.001,
    "hate/threatening": 0.3, // merged into hate: the highest wins
    "self-harm/intent": all.includes("sad") ? 0.7 : 0.002,
    "sexual/minors": 0,
    violence: 0.2,
    "new-category": 0.4,
  };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let data = "";
    req.on("data", (c: Buffer) => {
      data += c.toString("utf8");
    });
    req.on("end", () => {
      const body = data ? (JSON.parse(data) as { input: string[] }) : undefined;
      received.push({ path: req.url ?? "", body, headers: req.headers });
      const send = (status: number, text: string) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(text);
      };
      switch (req.url) {
        case "/ok":
          send(
            200,
            JSON.stringify({
              id: "modr-1",
              results: [{ flagged: false, category_scores: scoresFor(body?.input ?? []) }],
            }),
          );
          break;
        case "/slow":
          setTimeout(() => send(200, JSON.stringify({ results: [{ category_scores: { hate: 0.99 } }] })), 1500);
          break;
        case "/error":
          send(503, '{"error":"overloaded"}');
          break;
        case "/malformed":
          send(200, "<html>not json</html>");
          break;
        case "/wrong-shape":
          send(200, JSON.stringify({ results: [] }));
          break;
        case "/out-of-range":
          send(200, JSON.stringify({ results: [{ category_scores: { hate: 7 } }] }));
          break;
        case "/hang-up":
          req.socket.destroy();
          break;
        default:
          send(404, "{}");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const comment = (text: string) => ({ id: "c1", videoId: "v1", author: { id: "u1" }, text });

describe("createHttpClassifierCheck against a real HTTP server", () => {
  it("posts the texts as OpenAI's request, maps categories to ours and keeps the highest score", async () => {
    const check = createHttpClassifierCheck({
      url: `${base}/ok`,
      headers: { authorization: "Bearer t0ken" },
      model: "omni-moderation-latest",
    });
    const moderation = createModeration({ checks: [check] });
    const d = await moderation.onComment(comment("a hateful remark"));
    const last = received.at(-1);
    expect(last?.body).toEqual({ input: ["a hateful remark"], model: "omni-moderation-latest" });
    expect(last?.headers.authorization).toBe("Bearer t0ken");
    expect(last?.headers["content-type"]).toBe("application/json");
    expect(d.decision).toBe("block"); // hate 0.98 ≥ 0.97
    expect(d.reasonCodes).toEqual(["classifier:hate", "classifier:hate:threatening"]);
    const byCategory = Object.fromEntries(d.signals.map((s) => [s.category, s.score]));
    // below minScore (0.01) are left out: sexual/minors; self-harm 0.002
    expect(byCategory).toEqual({ hate: 0.98, violence: 0.2, new_category: 0.4 });
    expect(d.signals.find((s) => s.category === "hate")?.reasonCodes).toEqual([
      "classifier:hate",
      "classifier:hate:threatening",
    ]);

    const publish = await moderation.beforePublish({
      id: "v",
      uploader: { id: "u" },
      title: "so sad",
      caption: "today",
    });
    expect(received.at(-1)?.body).toEqual({ input: ["so sad", "today"], model: "omni-moderation-latest" });
    expect(publish).toMatchObject({ decision: "hold", reasonCodes: ["classifier:self-harm:intent"] });
    expect(await check.classify(["hateful"])).toMatchObject({ hate: 0.98, self_harm: 0.002, child_safety: 0 });
  });

  it("sends nothing for a moment without text", async () => {
    const before = received.length;
    const moderation = createModeration({
      checks: [createHttpClassifierCheck({ url: `${base}/ok`, moments: ["report"] })],
    });
    const d = await moderation.onReport({ subject: { kind: "video", id: "v" }, reporter: { id: "r" }, reason: "hate" });
    expect(d.decision).toBe("allow");
    expect(received.length).toBe(before);
  });

  it("times out a slow service: fail closed holds for review, fail open ignores it", async () => {
    const closed = createModeration({ checks: [createHttpClassifierCheck({ url: `${base}/slow`, timeoutMs: 150 })] });
    const started = performance.now();
    const d = await closed.onComment(comment("hello"));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(d).toMatchObject({ decision: "hold", reasonCodes: ["check_failed:classifier"] });
    expect(d.failures).toEqual([
      {
        check: "classifier",
        code: ModerationErrorCode.CHECK_TIMEOUT,
        message: expect.stringContaining("150 ms"),
        failMode: "closed",
      },
    ]);
    const open = createModeration({
      checks: [createHttpClassifierCheck({ url: `${base}/slow`, timeoutMs: 150, failMode: "open" })],
    });
    const d2 = await open.onComment(comment("hello"));
    expect(d2.decision).toBe("allow");
    expect(d2.failures.map((f) => [f.code, f.failMode])).toEqual([[ModerationErrorCode.CHECK_TIMEOUT, "open"]]);
  });

  it("the moderation's shorter time limit wins over the classifier's", async () => {
    const moderation = createModeration({
      checks: [{ ...createHttpClassifierCheck({ url: `${base}/slow`, timeoutMs: 5000 }), timeoutMs: 100 }],
    });
    const started = performance.now();
    const d = await moderation.onComment(comment("hello"));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(d.failures.map((f) => f.code)).toEqual([ModerationErrorCode.CHECK_TIMEOUT]);
    expect(d.decision).toBe("hold");
  });

  it("fails on an error status, malformed JSON, an unexpected shape, bad scores and a dropped connection", async () => {
    const cases: Array<[string, RegExp]> = [
      ["/error", /HTTP 503/],
      ["/malformed", /unexpected/],
      ["/wrong-shape", /unexpected/],
      ["/out-of-range", /unexpected/],
      ["/hang-up", /request failed/],
    ];
    for (const [path, message] of cases) {
      const moderation = createModeration({ checks: [createHttpClassifierCheck({ url: `${base}${path}` })] });
      const d = await moderation.onComment(comment("hello"));
      expect(d.decision, path).toBe("hold");
      expect(d.failures[0]?.code, path).toBe(ModerationErrorCode.CLASSIFIER_FAILED);
      expect(d.failures[0]?.message, path).toMatch(message);
      let code: string | undefined;
      try {
        await createHttpClassifierCheck({ url: `${base}${path}` }).classify(["x"]);
      } catch (error) {
        code = isModerationError(error) ? error.code : "other";
      }
      expect(code, path).toBe(ModerationErrorCode.CLASSIFIER_FAILED);
    }
    // a port nobody listens on
    const closedPort = createModeration({
      checks: [createHttpClassifierCheck({ url: "http://127.0.0.1:1/x", failMode: "open" })],
    });
    expect((await closedPort.onComment(comment("x"))).failures[0]?.code).toBe(ModerationErrorCode.CLASSIFIER_FAILED);
  });

  it("takes a custom request, parser and category map for other services", async () => {
    const check = createHttpClassifierCheck({
      url: `${base}/ok`,
      name: "mine",
      request: (texts) => ({ input: texts.map((t) => t.toUpperCase()) }),
      parse: (body) => ({
        toxic:
          (body as { results: Array<{ category_scores: { violence: number } }> }).results[0]?.category_scores
            .violence ?? 0,
      }),
      categoryMap: { toxic: "harassment" },
    });
    const d = await createModeration({ checks: [check] }).onComment(comment("hi"));
    expect(received.at(-1)?.body).toEqual({ input: ["HI"] });
    expect(d.signals).toEqual([
      {
        check: "mine",
        category: "harassment",
        score: 0.2,
        reasonCodes: ["classifier:toxic"],
        evidence: { scores: { toxic: 0.2 } },
      },
    ]);
  });

  it("rejects bad options with INVALID_OPTIONS", () => {
    for (const options of [
      { url: "ftp://x" },
      { url: "not a url" },
      { url: `${base}/ok`, timeoutMs: 0 },
      { url: `${base}/ok`, failMode: "x" },
    ]) {
      let code: string | undefined;
      try {
        createHttpClassifierCheck(options as never);
      } catch (error) {
        code = isModerationError(error) ? error.code : "other";
      }
      expect(code, JSON.stringify(options)).toBe(ModerationErrorCode.INVALID_OPTIONS);
    }
  });
});
