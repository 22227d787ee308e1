/** The embedded MQTT bus for signs, kiosks, MQTT readers and phone apps (issue #6, docs/mqtt.md). */
export { createMqttBus, type MqttBus, type MqttBusOptions } from './bus.js';
export { mqttDeviceSchema, usernameOf, MQTT_DEVICE_TYPES, type MqttDeviceConfig, type MqttDeviceType, type MqttGrant } from './config.js';
export { hashPassword, verifyPassword, parsePasswordHash, generatePassword, DEFAULT_SCRYPT, type ScryptParams } from './password.js';
export { deviceTopic, gatewayStatusTopic, TOPIC_ROOT } from './acl.js';
export { payloadJsonSchemas } from './payloads.js';
export type { BrokerConfig } from '../../config/sections/broker.js';
export { connectSimDevice, type SimDevice, type SimDeviceOptions } from './sim.js';
