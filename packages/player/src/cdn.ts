// The single-file CDN build (dist/cdn/reelkit-player.js): hls.js bundled in, elements defined.
//   <script type="module" src="https://cdn.jsdelivr.net/npm/@reelkit/player/dist/cdn/reelkit-player.js"></script>
import Hls from "hls.js";
import { defineReelElements, useHls } from "./index.js";

useHls(Hls);
defineReelElements();

export * from "./index.js";
