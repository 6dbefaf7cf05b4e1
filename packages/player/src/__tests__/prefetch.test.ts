import { afterEach, describe, expect, it } from "vitest";
import { recordBandwidth, resetBandwidth } from "../bandwidth.js";
import { chooseStartLevel, firstSegments, parseMaster } from "../prefetch.js";

const MASTER = `#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="alt",DEFAULT=NO,URI="audio/alt.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="default",DEFAULT=YES,AUTOSELECT=YES,URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=3476445,CODECS="avc1.42c01f,mp4a.40.2",RESOLUTION=720x1280,AUDIO="audio"
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1159393,CODECS="avc1.42c01e,mp4a.40.2",RESOLUTION=360x640,AUDIO="audio"
360p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2219297,CODECS="avc1.42c01f,mp4a.40.2",RESOLUTION=540x960,AUDIO="audio"
540p/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=143488,URI="720p/iframes.m3u8"
`;

afterEach(() => resetBandwidth());

describe("prefetch playlist parsing", () => {
  it("lists variants in hls.js's ascending-bitrate order with the default audio rendition", () => {
    const { variants, audio } = parseMaster(MASTER);
    expect(variants.map((v) => [v.uri, v.bandwidth, v.height])).toEqual([
      ["360p/index.m3u8", 1159393, 640],
      ["540p/index.m3u8", 2219297, 960],
      ["720p/index.m3u8", 3476445, 1280],
    ]);
    expect(audio.get("audio")).toBe("audio/index.m3u8");
  });

  it("finds the init and first segments, and skips byte-range playlists", () => {
    const media = `#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI="init_2.mp4"\n#EXTINF:2.000,\nseg_000.m4s\n#EXTINF:2.000,\nseg_001.m4s\n#EXT-X-ENDLIST\n`;
    expect(firstSegments(media)).toEqual(["init_2.mp4", "seg_000.m4s"]);
    const ranged = `#EXTM3U\n#EXT-X-MAP:URI="all.mp4",BYTERANGE="800@0"\n#EXTINF:2,\n#EXT-X-BYTERANGE:1000@800\nall.mp4\n`;
    expect(firstSegments(ranged)).toEqual([]);
  });

  it("starts a new viewer on the lowest rung, a measured one on the best rung that fits", () => {
    const { variants } = parseMaster(MASTER);
    expect(chooseStartLevel(variants, 1280)).toBe(0);
    recordBandwidth(4_000_000); // 70 % = 2.8 Mb/s: 540p fits, 720p does not
    expect(chooseStartLevel(variants, 1280)).toBe(1);
    recordBandwidth(20_000_000);
    expect(chooseStartLevel(variants, 1280)).toBe(2);
    expect(chooseStartLevel(variants, 960)).toBe(1); // capped to the element's height
  });
});
