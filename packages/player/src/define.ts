// Side-effect entry: `import "@reelkit/player/define"` registers <reel-player> and <reel-feed>.
import { defineReelElements } from "./index.js";

defineReelElements();
