/** geartrain's own version. */
export const GEARTRAIN_VERSION = '0.1.0';

/**
 * The gearmand version the server reports first in `version`: drivers read it to choose
 * CAN_DO_TIMEOUT units (milliseconds from 1.1.19 on, net_gearman #49), and geartrain follows 1.1.22.
 */
export const GEARMAND_COMPAT_VERSION = '1.1.22';
