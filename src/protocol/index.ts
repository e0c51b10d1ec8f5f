export {
  PacketType,
  PACKET_SPECS,
  ARG_COUNTS,
  packetName,
  HEADER_SIZE,
  DEFAULT_MAX_PACKET_SIZE,
  DEFAULT_PORT,
  GEARMAN_MAX_UNIQUE_SIZE,
  GEARMAN_MAX_HANDLE_SIZE,
  GEARMAN_MAX_FUNCTION_SIZE,
  MIN_PACKET_TYPE,
  MAX_PACKET_TYPE,
} from './packet-types.ts';
export type { PacketSpec, Sender } from './packet-types.ts';
export { Decoder, MAGIC_REQ, MAGIC_RES, DEFAULT_MAX_ADMIN_LINE } from './decoder.ts';
export type { Frame, BinaryFrame, AdminFrame, DecoderOptions } from './decoder.ts';
export { encodePacket, request, response } from './encoder.ts';
export type { Arg } from './encoder.ts';
export {
  parseAdminCommand,
  replyShape,
  listingLines,
  parseStatus,
  parsePriorityStatus,
  parseWorkers,
  parseShowJobs,
  parseShowUniqueJobs,
} from './admin.ts';
export type { AdminCommand, ReplyShape, FunctionStatus, WorkerInfo, PriorityStatus, JobInfo } from './admin.ts';
