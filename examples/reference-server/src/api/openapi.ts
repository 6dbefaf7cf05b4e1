// The OpenAPI 3.1 document, generated from the route table's zod schemas (z.toJSONSchema), so the
// document describes exactly what the router enforces.
import { z } from "zod";
import { sendJson } from "../http.js";
import { type AnyRoute, errorSchema, type RouteModule, route } from "../routes.js";

type JsonSchema = Record<string, unknown>;

const toSchema = (schema: z.ZodType, io: "input" | "output"): JsonSchema => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: "any",
    reused: "inline",
  }) as JsonSchema;
  return rest;
};

/** Query parameters from an object schema: one parameter per property. */
function queryParameters(schema: z.ZodType): JsonSchema[] {
  const json = toSchema(schema, "input");
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: "query",
    required: required.has(name),
    schema: property,
    ...(typeof property.description === "string" ? { description: property.description } : {}),
  }));
}

export function openApiDocument(routes: readonly AnyRoute[], version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const r of routes) {
    if (r.hidden) continue;
    const path = r.path.replace(/\{([A-Za-z]+)\*\}/g, "{$1}");
    const names = [...r.path.matchAll(/\{([A-Za-z]+)\*?\}/g)].map((m) => m[1] as string);
    const methods = typeof r.method === "string" ? [r.method] : r.method;
    for (const method of methods) {
      if (method === "HEAD" && methods.includes("GET")) continue;
      const access = r.access ?? "public";
      const responses: Record<string, JsonSchema> = {};
      for (const [status, spec] of Object.entries(r.responses ?? { 200: { description: "OK" } })) {
        responses[status] = {
          description: spec.description,
          ...(spec.schema
            ? { content: { "application/json": { schema: toSchema(spec.schema, "output") } } }
            : spec.type
              ? { content: { [spec.type]: {} } }
              : {}),
        };
      }
      if (r.body || r.query || r.params)
        responses["400"] ??= { description: "Malformed request (the reason in `error`)" };
      if (access !== "public" && access !== "optional") {
        responses["401"] ??= { description: "Missing, malformed, forged or expired token" };
        responses["403"] ??= { description: `Needs the ${access} role or higher` };
      }
      for (const value of Object.values(responses))
        if (value.content === undefined && Number(Object.keys(responses).find((k) => responses[k] === value)) >= 400)
          value.content = { "application/json": { schema: { $ref: "#/components/schemas/Error" } } };
      const operation: JsonSchema = {
        summary: r.summary,
        tags: [r.tag],
        operationId: `${method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? "").toUpperCase())}`,
        parameters: [
          ...names.map((name) => ({ name, in: "path", required: true, schema: { type: "string" } })),
          ...(r.query ? queryParameters(r.query) : []),
        ],
        ...(r.body
          ? { requestBody: { required: true, content: { "application/json": { schema: toSchema(r.body, "input") } } } }
          : {}),
        responses,
        ...(access === "public" ? {} : { security: access === "optional" ? [{}, { bearer: [] }] : [{ bearer: [] }] }),
        ...(access !== "public" && access !== "optional" ? { "x-reelkit-role": access } : {}),
      };
      paths[path] = { ...paths[path], [method.toLowerCase()]: operation };
    }
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Reelkit reference server",
      version,
      description:
        "Every Reelkit package wired into a short-video platform. Generated from the route table's zod schemas.",
    },
    servers: [{ url: "/" }],
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "POST /auth/sign-in for a demo token" },
      },
      schemas: { Error: toSchema(errorSchema, "output") },
    },
    paths,
  };
}

export const openApiRoutes =
  (all: () => readonly AnyRoute[]): RouteModule =>
  (app) => [
    route({
      method: "GET",
      path: "/openapi.json",
      tag: "operations",
      summary: "This document: OpenAPI 3.1, generated from the route table.",
      platform: false,
      handler({ res }) {
        const version = app.packages.find((p) => p.name === "@reelkit/upload")?.version ?? "0.0.0";
        sendJson(res, 200, openApiDocument(all(), version), { "cache-control": "public, max-age=60" });
      },
    }),
  ];
