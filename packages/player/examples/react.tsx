// A React wrapper around <reel-feed>. The elements are registered on the client only (the
// import is safe on the server too, but registering there does nothing).

import type { ChangeDetail, LikeDetail, ReelFeedElement } from "@reelkit/player";
import { useEffect, useRef } from "react";

declare module "react" {
  namespace JSX {
    interface IntrinsicElements {
      "reel-feed": React.DetailedHTMLProps<React.HTMLAttributes<ReelFeedElement>, ReelFeedElement> & {
        src: string;
        events?: string;
        "user-id"?: string;
      };
    }
  }
}

export function Feed(props: { userId?: string; onLike?: (detail: LikeDetail) => void }) {
  const feed = useRef<ReelFeedElement>(null);
  useEffect(() => {
    void import("@reelkit/player/define");
  }, []);
  useEffect(() => {
    const element = feed.current;
    if (!element) return;
    const onChange = (event: Event) => console.log("now playing", (event as CustomEvent<ChangeDetail>).detail.item.id);
    const onLike = (event: Event) => props.onLike?.((event as CustomEvent<LikeDetail>).detail);
    element.addEventListener("reel-change", onChange);
    element.addEventListener("reel-like", onLike);
    return () => {
      element.removeEventListener("reel-change", onChange);
      element.removeEventListener("reel-like", onLike);
    };
  }, [props.onLike]);
  return <reel-feed ref={feed} src="/feed" events="/events" user-id={props.userId} style={{ height: "100dvh" }} />;
}
