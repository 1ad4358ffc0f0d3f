export { generateKeySpec, type Keyring, loadKeyring, parseKeyring } from "./keyring.ts";
export { aadFor, needsReseal, open, type Sealed, seal } from "./seal.ts";
export {
  API_KEY,
  hashToken,
  INSTANCE_TOKEN,
  isInstanceToken,
  mintApiKey,
  mintInstanceToken,
  randomSecret,
  safeEqual,
} from "./token.ts";
