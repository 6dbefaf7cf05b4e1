// Every route module of the API, in matching order. Add a module here to mount it.
import type { RouteModule } from "../routes.js";
import { coreRoutes } from "./core.js";
import { creatorRoutes } from "./creator.js";
import { reviewRoutes } from "./review.js";
import { socialRoutes } from "./social.js";
import { videoRoutes } from "./videos.js";

export const routeModules: readonly RouteModule[] = [
  coreRoutes,
  videoRoutes,
  creatorRoutes,
  socialRoutes,
  reviewRoutes,
];
