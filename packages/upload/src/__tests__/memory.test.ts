import { createMemoryLocker } from "../adapters/memory.js";
import { lockerContract } from "./locker.contract.js";

lockerContract("memory", () => createMemoryLocker());
