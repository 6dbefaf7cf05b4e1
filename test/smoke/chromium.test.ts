import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium } from "playwright-core";
import { describe, expect, it } from "vitest";
import { chromiumArgs, chromiumPath } from "../browser.js";

describe("headless Chromium (playwright-core)", () => {
  it("opens a page served on loopback, runs its script and reports media support", async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(`<!doctype html><title>smoke</title><button id="b" onclick="this.textContent='clicked'">click</button>`);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: chromiumArgs });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(await page.title()).toBe("smoke");
      await page.click("#b");
      expect(await page.textContent("#b")).toBe("clicked");
      // The player's streams are fMP4 H.264 + AAC through Media Source Extensions.
      const mse = await page.evaluate(() => MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E, mp4a.40.2"'));
      expect(mse).toBe(true);
    } finally {
      await browser.close();
      server.close();
    }
  });
});
