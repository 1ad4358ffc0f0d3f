export { type RequestIdVariables, requestId } from "./request-id.ts";
