export { startCentralStandIn, type CentralFault, type CentralCounts, type CentralStandIn, type CentralStandInOptions } from './standin.js';
export { startCentralProcess, readEntitlements, rawPublicKey, type CentralProcessOptions } from './main.js';
