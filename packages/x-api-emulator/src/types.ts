/** A Twitter API v2 object as found in the corpus: any subset of the documented fields. */
export type ApiObject = Record<string, unknown>;

export interface Tweet extends ApiObject {
  id: string;
  text?: string;
}

export interface Includes {
  users?: ApiObject[];
  tweets?: ApiObject[];
  media?: ApiObject[];
  polls?: ApiObject[];
  places?: ApiObject[];
}

/** One API response page as twarc2 writes it (one per JSONL line). */
export interface Page {
  data?: ApiObject[] | ApiObject;
  includes?: Includes;
  meta?: ApiObject;
  errors?: ApiObject[];
  [key: string]: unknown;
}

/** The API endpoints the emulator serves (names used for rate limits, faults and logs). */
export type EndpointName = "search/recent" | "search/all" | "users/tweets" | "users/lookup";

export const ENDPOINTS: readonly EndpointName[] = ["search/recent", "search/all", "users/tweets", "users/lookup"];
