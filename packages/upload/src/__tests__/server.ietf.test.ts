// The IETF resumable upload drafts (interop versions 5 and 6) on the tus endpoint: raw requests
// for the status codes, then tus-js-client 4 speaking each draft end to end.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Upload, type UploadOptions } from "tus-js-client";
import { describe, expect, it } from "vitest";
import { sha256, useUploadServer } from "./harness.js";

const h = useUploadServer({ sniff: false });

const draft = (version: "5" | "6", headers: Record<string, string> = {}) => ({
  "Upload-Draft-Interop-Version": version,
  ...headers,
});

/** tus-js-client 4 speaks the drafts, but its typings do not list the `protocol` option yet. */
const speaking = (protocol: string) => ({ protocol }) as Partial<UploadOptions>;

const idOf = (url: string) => url.split("/").pop() ?? "";

describe("IETF resumable upload draft", () => {
  it("creates, appends and completes an upload with deferred length (interop 6)", async () => {
    await h.start();
    const sums: string[] = [];
    h.upload.on("completed", ({ sha256 }) => sums.push(sha256));
    const data = randomBytes(40_000);
    const created = await fetch(`${h.base}/files/`, {
      method: "POST",
      headers: draft("6", { "Upload-Complete": "?0" }),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get("upload-offset")).toBe("0");
    expect(created.headers.get("upload-complete")).toBe("?0");
    expect(created.headers.get("upload-draft-interop-version")).toBe("6");
    const url = `${h.base}${created.headers.get("location")}`;

    const first = await fetch(url, {
      method: "PATCH",
      headers: draft("6", {
        "Content-Type": "application/partial-upload",
        "Upload-Offset": "0",
        "Upload-Complete": "?0",
      }),
      body: data.subarray(0, 25_000),
    });
    expect(first.status).toBe(204);
    expect(first.headers.get("upload-offset")).toBe("25000");
    expect(first.headers.get("upload-complete")).toBe("?0");

    const probe = await fetch(url, { method: "HEAD", headers: draft("6") });
    expect(probe.status).toBe(204);
    expect(probe.headers.get("upload-offset")).toBe("25000");
    expect(probe.headers.get("upload-complete")).toBe("?0");
    expect(probe.headers.get("cache-control")).toBe("no-store");
    expect(probe.headers.get("upload-length")).toBeNull();

    const last = await fetch(url, {
      method: "PATCH",
      headers: draft("6", {
        "Content-Type": "application/partial-upload",
        "Upload-Offset": "25000",
        "Upload-Complete": "?1",
      }),
      body: data.subarray(25_000),
    });
    expect(last.status).toBe(204);
    expect(last.headers.get("upload-complete")).toBe("?1");
    const done = await fetch(url, { method: "HEAD", headers: draft("6") });
    expect(done.headers.get("upload-complete")).toBe("?1");
    expect(done.headers.get("upload-length")).toBe("40000");
    expect(sums).toEqual([sha256(data)]);
    expect(sha256(await readFile(join(h.dir, idOf(url))))).toBe(sha256(data));
  });

  it("takes a whole upload in the creation request (interop 5)", async () => {
    await h.start();
    const data = randomBytes(5000);
    const res = await fetch(`${h.base}/files/`, {
      method: "POST",
      headers: draft("5", { "Upload-Complete": "?1", "Content-Type": "video/mp4" }),
      body: data,
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("upload-complete")).toBe("?1");
    expect(res.headers.get("upload-offset")).toBe("5000");
    const url = `${h.base}${res.headers.get("location")}`;
    expect(Buffer.from(await (await fetch(url)).arrayBuffer()).equals(data)).toBe(true);
  });

  it("answers problem documents: 409 with the expected offset, 400 on inconsistent lengths and versions", async () => {
    await h.start();
    const created = await fetch(`${h.base}/files/`, {
      method: "POST",
      headers: draft("6", { "Upload-Complete": "?0", "Upload-Length": "10" }),
    });
    const url = `${h.base}${created.headers.get("location")}`;
    const mismatch = await fetch(url, {
      method: "PATCH",
      headers: draft("6", { "Upload-Offset": "4", "Upload-Complete": "?0" }),
      body: Buffer.from("abc"),
    });
    expect(mismatch.status).toBe(409);
    expect(mismatch.headers.get("content-type")).toBe("application/problem+json");
    expect(await mismatch.json()).toMatchObject({
      type: "https://iana.org/assignments/http-problem-types#mismatching-upload-offset",
      "expected-offset": 0,
      "provided-offset": 4,
    });
    // Complete after 3 of the announced 10 bytes: refused, the 3 bytes are kept.
    const early = await fetch(url, {
      method: "PATCH",
      headers: draft("6", { "Upload-Offset": "0", "Upload-Complete": "?1" }),
      body: Buffer.from("abc"),
    });
    expect(early.status).toBe(400);
    expect(((await early.json()) as { type: string }).type).toContain("inconsistent-upload-length");
    const probe = await fetch(url, { method: "HEAD", headers: draft("6") });
    expect(probe.headers.get("upload-offset")).toBe("3");
    expect(probe.headers.get("upload-complete")).toBe("?0");

    const badType = await fetch(url, {
      method: "PATCH",
      headers: draft("6", { "Upload-Offset": "3", "Upload-Complete": "?0", "Content-Type": "text/plain" }),
      body: Buffer.from("d"),
    });
    expect(badType.status).toBe(415);
    const badFlag = await fetch(url, {
      method: "PATCH",
      headers: draft("6", { "Upload-Offset": "3", "Upload-Complete": "yes" }),
      body: Buffer.from("d"),
    });
    expect(badFlag.status).toBe(400);
    const unknown = await fetch(url, { method: "HEAD", headers: { "Upload-Draft-Interop-Version": "99" } });
    expect(unknown.status).toBe(400);
    const concat = await fetch(`${h.base}/files/`, {
      method: "POST",
      headers: draft("6", { "Upload-Complete": "?0", "Upload-Concat": "partial" }),
    });
    expect(concat.status).toBe(400);
    // Termination works the same way.
    const gone = await fetch(url, { method: "DELETE", headers: draft("6") });
    expect(gone.status).toBe(204);
    expect((await fetch(url, { method: "HEAD", headers: draft("6") })).status).toBe(404);
  });

  for (const protocol of ["ietf-draft-03", "ietf-draft-05"] as const) {
    it(`serves tus-js-client speaking ${protocol}: chunked, then resumed after an abort`, async () => {
      await h.start();
      const sums: string[] = [];
      h.upload.on("completed", ({ sha256 }) => sums.push(sha256));
      const data = randomBytes(300_000);
      let received = 0;
      h.upload.on("progress", () => {
        received += 1;
      });
      let url = "";
      // First attempt: abort after the first chunk is acknowledged.
      await new Promise<void>((done, fail) => {
        const upload: Upload = new Upload(data, {
          endpoint: `${h.base}/files/`,
          ...speaking(protocol),
          chunkSize: 50_000,
          retryDelays: [],
          onChunkComplete: (_size, accepted) => {
            url = upload.url ?? "";
            if (accepted >= 50_000) upload.abort().then(done, fail);
          },
          onError: fail,
          onSuccess: () => fail(new Error("should have been aborted")),
        });
        upload.start();
      });
      expect(url).not.toBe("");
      const chunksBefore = received;
      expect(chunksBefore).toBeGreaterThanOrEqual(1);
      // Second attempt: resume from the server's offset with a fresh client.
      await new Promise<void>((done, fail) => {
        const upload = new Upload(data, {
          uploadUrl: url,
          ...speaking(protocol),
          chunkSize: 50_000,
          retryDelays: [],
          onError: fail,
          onSuccess: () => done(),
        });
        upload.start();
      });
      // Six chunks in all: the resumed client did not send the first ones again.
      expect(received).toBe(6);
      expect(sums).toEqual([sha256(data)]);
      expect(sha256(await readFile(join(h.dir, idOf(url))))).toBe(sha256(data));
    });
  }
});
