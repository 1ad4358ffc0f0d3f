export { bearerToken } from "./bearer.ts";
export { addressKey, type ClientIpVariables, clientAddress, clientIp } from "./client-ip.ts";
export {
  hostAllowed,
  hostGuard,
  hostSet,
  isLoopbackBind,
  LOOPBACK_HOSTS,
  loopbackAllowlist,
  normaliseHost,
} from "./host.ts";
export { type RequestIdVariables, requestId } from "./request-id.ts";
