import { createMemoryCounterStore } from "../adapters/memory.js";
import { counterStoreContract } from "./counter-store.contract.js";

counterStoreContract("memory", () => createMemoryCounterStore());
