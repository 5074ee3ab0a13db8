-- Argo CD health check for callback-operator.io/CallbackRegistration (resource.customizations.health format:
-- the live object is the global `obj`; the script returns a table with `status` and `message`).
-- Install it with argocd-cm.yaml next to this file; docs/gitops.md explains it.
--
-- The operator's status follows kstatus: status.observedGeneration and the conditions Ready, Reconciling, Stalled,
-- each with a CamelCase reason and a message (README "Condition reasons"). The mapping:
--   being deleted                        -> Progressing (the finalizer removes the webhook at the provider first)
--   no status yet, or a spec change the operator has not looked at (observedGeneration behind) -> Progressing
--   Stalled=True                         -> Degraded    (nothing changes until the spec or a Secret changes)
--   Reconciling=True                     -> Progressing (retried with backoff, or waiting for a Secret)
--   Ready=True                           -> Healthy
--   Ready=Unknown, reason Suspended      -> Suspended   (spec.suspend: no provider calls)
-- The message is the deciding condition's "Reason: message".
local hs = {}

local function find(conditions, kind)
  if conditions == nil then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if condition.type == kind then
      return condition
    end
  end
  return nil
end

local function describe(condition)
  local message = condition.message or ""
  if condition.reason ~= nil and condition.reason ~= "" then
    return condition.reason .. ": " .. message
  end
  return message
end

local status = obj.status or {}
local ready = find(status.conditions, "Ready")

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  if obj.spec ~= nil and obj.spec.deletionPolicy == "Orphan" then
    hs.message = "Being deleted (deletionPolicy Orphan): the registration stays at the provider"
  else
    hs.message = "Being deleted (deletionPolicy Delete): the operator removes the registration at the provider first"
  end
  return hs
end

local generation = obj.metadata and obj.metadata.generation
if ready == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end
if generation ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to act on generation " .. string.format("%d", generation) ..
    " (status describes generation " .. string.format("%d", status.observedGeneration) .. ")"
  return hs
end

local stalled = find(status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

local reconciling = find(status.conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling)
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end
if ready.reason == "Suspended" then
  hs.status = "Suspended"
  hs.message = describe(ready)
  return hs
end
if ready.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(ready)
  return hs
end
hs.status = "Progressing"
hs.message = describe(ready)
return hs
