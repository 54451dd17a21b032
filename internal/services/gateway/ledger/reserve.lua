-- Checks every cap and, only when all pass, charges the request, so two concurrent
-- requests can never both take the last unit and a refused request changes nothing.
--
-- KEYS: agent day, platform month, then the customer month (when ARGV[7] = '1'), then the
-- user's trial tasks of the day (when ARGV[8] = '1').
-- ARGV: cost, agent cap, platform cap, trial task cap, PEXPIREAT of daily keys, PEXPIREAT
-- of monthly keys, has customer, is trial task. Times come from the caller, never TIME.
-- Returns {denial, agent spent, platform spent, customer spent, trial tasks}, with denial
-- 0 (charged), 1 (trial limit), 2 (agent budget) or 3 (platform budget).

local cost = tonumber(ARGV[1])
local agentCap = tonumber(ARGV[2])
local platformCap = tonumber(ARGV[3])
local trialCap = tonumber(ARGV[4])
local dayExpireAt = ARGV[5]
local monthExpireAt = ARGV[6]

local agentKey, platformKey = KEYS[1], KEYS[2]
local customerKey, trialKey
local n = 3
if ARGV[7] == '1' then
  customerKey = KEYS[n]
  n = n + 1
end
if ARGV[8] == '1' then
  trialKey = KEYS[n]
end

-- nil for a missing key, so a charge knows to set the new key's expiry.
local function current(key)
  if key == nil then
    return nil
  end
  return tonumber(redis.call('GET', key))
end

local agent = current(agentKey)
local platform = current(platformKey)
local customer = current(customerKey)
local tasks = current(trialKey)

local function refuse(denial)
  return {denial, agent or 0, platform or 0, customer or 0, tasks or 0}
end

if trialKey and (tasks or 0) + 1 > trialCap then
  return refuse(1)
end
if (agent or 0) + cost > agentCap then
  return refuse(2)
end
if (platform or 0) + cost > platformCap then
  return refuse(3)
end

local function charge(key, was, by, expireAt)
  local now = redis.call('INCRBY', key, by)
  if was == nil then
    redis.call('PEXPIREAT', key, expireAt)
  end
  return now
end

agent = charge(agentKey, agent, cost, dayExpireAt)
platform = charge(platformKey, platform, cost, monthExpireAt)
if customerKey then
  customer = charge(customerKey, customer, cost, monthExpireAt)
end
if trialKey then
  tasks = charge(trialKey, tasks, 1, dayExpireAt)
end
return {0, agent, platform, customer or 0, tasks or 0}
