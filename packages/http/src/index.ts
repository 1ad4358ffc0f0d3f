export { bearerToken } from "./bearer.ts";
export {
  addressKey,
  type ClientIpVariables,
  clientIp,
  type PeerSource,
  peerAddress,
} from "./client-ip.ts";
export {
  hostAllowed,
  hostGuard,
  hostSet,
  isLoopbackBind,
  LOOPBACK_HOSTS,
  loopbackAllowlist,
  normaliseHost,
} from "./host.ts";
export { nextRequestId, type RequestIdVariables, requestId, sanitizedRequestId } from "./request-id.ts";
