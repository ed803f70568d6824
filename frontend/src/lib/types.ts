// Shapes of the API's JSON. Generated: api-schema.ts comes from the server's description (openapi.json, the
// app's GET /api/openapi.json with the default settings): `make api-types` writes both, and a test fails while
// either is stale. Written here only what the UI narrows or adds.
import type { components } from "./api-schema";
import {
  sourceOptionsModeAnyOf0Values,
  syncSourceKindValues,
  syncSourceScheduleValues,
  uploadExtensionValues,
  workbenchPipelineDescriptionModeValues,
} from "./api-schema";

type Schemas = components["schemas"];

// -- chat -------------------------------------------------------------------------------------------
export type Verdict = "like" | "dislike";
export type Mark = "relevant" | "irrelevant";

/** A source as an answer lists it; stored answers may lack the fields added after them. */
export type Source = Pick<Schemas["AnswerSource"], "chunk_id" | "n" | "rank" | "score" | "title" | "source" | "page" | "text"> &
  Partial<Pick<Schemas["AnswerSource"], "headings" | "location" | "cited">> & { shown?: boolean };

/** A rating as the UI holds it (the server's `Rating`, with its values narrowed). */
export interface Rating {
  feedback: Verdict | null;
  sources: Record<string, Mark>;
  comment: string | null;
}

export type StoredMessage = Pick<Schemas["Message"], "id" | "question" | "status"> & {
  answer: string | null;
  error: string | null;
  sources: Source[];
  feedback: Rating | null;
};

export type ConversationSummary = Schemas["ConversationSummary"];

export type Conversation = Pick<Schemas["Conversation"], "id" | "name"> & { messages: StoredMessage[] };

// -- documents and the sources they come from ---------------------------------------------------------
export type DocumentSource = Schemas["DocumentSource"];

/** What an upload may hold: the types the server's parsers read (its SUPPORTED_EXTENSIONS). */
export const UPLOAD_EXTENSIONS = uploadExtensionValues;
export const SOURCE_KINDS = syncSourceKindValues;
export type SourceKind = Schemas["SyncSource"]["kind"];
/** The kinds `POST /api/admin/sources` adds (uploads come from `POST /api/upload`). */
export type NewSourceKind = Schemas["NewSyncSource"]["kind"];
export const SCHEDULES = syncSourceScheduleValues;
export type Schedule = Schemas["SyncSource"]["schedule"];
export type SyncStatus = Schemas["SyncSource"]["status"];
export type WebMode = NonNullable<Schemas["SourceOptions"]["mode"]>;
export const WEB_MODES = sourceOptionsModeAnyOf0Values.filter((mode): mode is WebMode => mode !== null);
export type SourceOptions = Schemas["SourceOptions"];
export type SyncPathNote = Schemas["SyncPathNote"];
export type SyncReport = Schemas["SyncReport"];
export type SyncJob = Schemas["SyncJob"];
export type SyncSource = Schemas["SyncSource"];
export type NewSyncSource = Schemas["NewSyncSource"];
export type SyncStarted = Schemas["SyncStarted"];
export type SyncSourceDeleted = Schemas["SyncSourceDeleted"];

// -- jobs ---------------------------------------------------------------------------------------------
export type Progress = Schemas["Progress"];
export type TaskStatus = Schemas["TaskStatus"];
export type JobStatus = Schemas["Job"]["status"];
export type Job = Schemas["Job"];

// -- models, evaluation, feedback, keys -----------------------------------------------------------------
export type Metrics = Record<string, number>;
export type ModelVersion = Schemas["ModelVersion"];
export type ServingRetrieval = Schemas["ServingRetrieval"];
export type ServingModel = Schemas["ServingModel"];
export type EvaluationSummary = Schemas["EvaluationSummary"];
export type ModelsOverview = Schemas["ModelsOverview"];
export type FeedbackStats = Schemas["FeedbackStats"];
export type ApiKey = Schemas["ApiKey"];
export type NewApiKey = Schemas["NewApiKey"];

// -- the retrieval workbench ----------------------------------------------------------------------------
export type WorkbenchRequest = Schemas["WorkbenchRequest"];
export type WorkbenchPipeline = Schemas["WorkbenchPipeline"];
export type WorkbenchComparison = Schemas["WorkbenchComparison"];
export type WorkbenchColumn = Schemas["WorkbenchColumn"];
export type WorkbenchHit = Schemas["WorkbenchHit"];
export type RetrievalMode = NonNullable<WorkbenchPipeline["mode"]>;
export const RETRIEVAL_MODES = workbenchPipelineDescriptionModeValues;
