/** Error bodies in the formats of the real Twitter API v2. */

export interface Problem {
  title: string;
  type: string;
  status: number;
  detail: string;
}

export function problem(status: number, title: string, detail = title): Problem {
  return { title, detail, type: "about:blank", status };
}

export const unauthorized = (): Problem => problem(401, "Unauthorized");
export const tooManyRequests = (): Problem => problem(429, "Too Many Requests");
export const serviceUnavailable = (): Problem => problem(503, "Service Unavailable");
export const internalError = (): Problem => problem(500, "Internal Server Error");
export const notFoundRoute = (): Problem => problem(404, "Not Found", "Sorry, that page does not exist.");

/** The API's 400 body for invalid query parameters. */
export function invalidRequest(parameter: string, values: string[], message: string) {
  return {
    errors: [{ parameters: { [parameter]: values }, message }],
    title: "Invalid Request",
    detail: "One or more parameters to your request was invalid.",
    type: "https://api.twitter.com/2/problems/invalid-request",
  };
}
