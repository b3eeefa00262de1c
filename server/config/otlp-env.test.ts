// The standard OpenTelemetry exporter variables, as the audit stream reads them.
import { describe, expect, it } from "vitest";
import { readOtlpLogSettings } from "@/server/config/env";

describe("OTEL_EXPORTER_OTLP_* for the audit stream", () => {
  it("is off without an endpoint, and with OTEL_SDK_DISABLED=true", () => {
    expect(readOtlpLogSettings({})).toBeUndefined();
    expect(readOtlpLogSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SDK_DISABLED: "true" })).toBeUndefined();
  });

  it("adds /v1/logs to OTEL_EXPORTER_OTLP_ENDPOINT and takes OTEL_EXPORTER_OTLP_LOGS_ENDPOINT as it is", () => {
    expect(readOtlpLogSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" })?.url).toBe("http://collector:4318/v1/logs");
    expect(
      readOtlpLogSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: "https://siem.example.com/ingest/otlp" })
        ?.url,
    ).toBe("https://siem.example.com/ingest/otlp");
  });

  it("merges the headers (the logs-specific variable wins per key) and decodes percent-encoded values", () => {
    const s = readOtlpLogSettings({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_EXPORTER_OTLP_HEADERS: "x-tenant=lab,authorization=Bearer%20general",
      OTEL_EXPORTER_OTLP_LOGS_HEADERS: "authorization=Bearer%20logs-only",
    });
    expect(s?.headers).toEqual({ "x-tenant": "lab", authorization: "Bearer logs-only" });
  });

  it("names the service airlock unless OTEL_SERVICE_NAME or service.name in OTEL_RESOURCE_ATTRIBUTES says otherwise", () => {
    const base = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" };
    expect(readOtlpLogSettings(base)?.serviceName).toBe("airlock");
    expect(readOtlpLogSettings({ ...base, OTEL_RESOURCE_ATTRIBUTES: "service.name=lab-airlock,deployment.environment=prod" })).toMatchObject({
      serviceName: "lab-airlock",
      resourceAttributes: { "deployment.environment": "prod" },
    });
    expect(readOtlpLogSettings({ ...base, OTEL_SERVICE_NAME: "named", OTEL_RESOURCE_ATTRIBUTES: "service.name=other" })?.serviceName).toBe("named");
  });

  it("fails with the variable's name on a bad URL, a bad list or a protocol other than http/json", () => {
    expect(() => readOtlpLogSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(() => readOtlpLogSettings({ OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: "not a url" })).toThrow(/OTEL_EXPORTER_OTLP_LOGS_ENDPOINT is not a URL/);
    expect(() => readOtlpLogSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_HEADERS: "novalue" })).toThrow(
      /OTEL_EXPORTER_OTLP_HEADERS/,
    );
    expect(() => readOtlpLogSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toThrow(
      /OTEL_EXPORTER_OTLP_PROTOCOL="grpc"/,
    );
    expect(readOtlpLogSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })?.url).toBe("http://c:4318/v1/logs");
  });
});
