// Alert rules, their history, notification targets, SMTP and the sends log
// (`/api/settings/…`, admins only; docs/dashboard-api.md, docs/operations.md).

import { request } from "./client";
import type { components } from "./schema";

type Schemas = components["schemas"];
/** An alert rule. */
export type AlertRule = Schemas["AlertRuleResponse"];
/** A rule to create or save. */
export type AlertRulePayload = Schemas["AlertRulePayload"];
/** One firing episode. */
export type AlertEvent = Schemas["AlertEventResponse"];
/** A webhook or e-mail target. */
export type NotifyTarget = Schemas["NotifyTargetResponse"];
/** A target to create. */
export type NotifyTargetPayload = Schemas["NotifyTargetPayload"];
/** The SMTP settings as shown (never the password). */
export type Smtp = Schemas["SmtpResponse"];
/** SMTP settings to save. */
export type SmtpPayload = Schemas["SmtpPayload"];
/** One send of the log. */
export type Send = Schemas["SendResponse"];
/** A rule's test: its value now and the sends. */
export type AlertTest = Schemas["AlertTestResponse"];

/** Every alert rule. */
export const listRules = () => request<AlertRule[]>("/api/settings/alerts/rules/");
/** Creates a rule. */
export const createRule = (body: AlertRulePayload) =>
  request<AlertRule>("/api/settings/alerts/rules/", { method: "POST", body });
/** Replaces a rule's fields. */
export const updateRule = (id: number, body: AlertRulePayload) =>
  request<AlertRule>(`/api/settings/alerts/rules/${id}/`, { method: "PUT", body });
/** Deletes a rule and its history. */
export const deleteRule = (id: number) =>
  request<Record<string, never>>(`/api/settings/alerts/rules/${id}/`, { method: "DELETE" });
/** Measures a rule now and sends a test notice to every enabled target. */
export const testRule = (id: number) =>
  request<AlertTest>(`/api/settings/alerts/rules/${id}/test/`, { method: "POST", body: {} });
/** Firing episodes, newest first. */
export const alertHistory = () => request<AlertEvent[]>("/api/settings/alerts/history/");
/** Every target with its latest send's outcome. */
export const listTargets = () => request<NotifyTarget[]>("/api/settings/notify/targets/");
/** Creates a target. */
export const createTarget = (body: NotifyTargetPayload) =>
  request<NotifyTarget>("/api/settings/notify/targets/", { method: "POST", body });
/** Turns a target on or off. */
export const setTargetEnabled = (id: number, enabled: boolean) =>
  request<NotifyTarget>(`/api/settings/notify/targets/${id}/`, { method: "PATCH", body: { enabled } });
/** Deletes a target. */
export const deleteTarget = (id: number) =>
  request<Record<string, never>>(`/api/settings/notify/targets/${id}/`, { method: "DELETE" });
/** Sends a test message to a target now. */
export const testTarget = (id: number) =>
  request<Send>(`/api/settings/notify/targets/${id}/test/`, { method: "POST", body: {} });
/** The SMTP settings. */
export const getSmtp = () => request<Smtp>("/api/settings/notify/smtp/");
/** Saves the SMTP settings (a password left out is kept). */
export const putSmtp = (body: SmtpPayload) => request<Smtp>("/api/settings/notify/smtp/", { method: "PUT", body });
/** Sends a test mail now. */
export const testSmtp = (to: string) =>
  request<Send>("/api/settings/notify/smtp/test/", { method: "POST", body: { to } });
/** The newest sends. */
export const listSends = () => request<Send[]>("/api/settings/notify/sends/");
