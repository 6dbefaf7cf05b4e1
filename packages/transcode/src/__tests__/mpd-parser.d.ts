// The parts of mpd-parser (videojs, no bundled types) the tests use: it turns an MPD into m3u8-parser's shape.
declare module "mpd-parser" {
  export interface MpdSegment {
    uri: string;
    resolvedUri: string;
    duration: number;
    number: number;
    presentationTime?: number;
    map?: { uri: string; resolvedUri: string };
  }

  export interface MpdPlaylist {
    attributes: {
      NAME: string;
      BANDWIDTH: number;
      CODECS?: string;
      RESOLUTION?: { width: number; height: number };
      "FRAME-RATE"?: number;
      AUDIO?: string;
      [other: string]: unknown;
    };
    segments: MpdSegment[];
    targetDuration?: number;
    [other: string]: unknown;
  }

  export interface MpdManifest {
    duration: number;
    endList?: boolean;
    playlists: MpdPlaylist[];
    mediaGroups: {
      AUDIO: Record<string, Record<string, { default?: boolean; playlists: MpdPlaylist[] }>>;
      [group: string]: unknown;
    };
    [other: string]: unknown;
  }

  export function parse(manifest: string, options?: { manifestUri?: string }): MpdManifest;
}
