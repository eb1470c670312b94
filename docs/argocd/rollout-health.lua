-- Argo CD health check for Sluice Rollouts (sluice.dev/v1alpha1 Rollout), so Argo CD shows a
-- Sluice rollout's state as it shows a Deployment's. Argo CD runs it with the live object in
-- `obj`; it must return a table with `status` (Healthy, Progressing, Degraded, Suspended or
-- Unknown) and `message`. Install it in argocd-cm under the key
-- resource.customizations.health.sluice.dev_Rollout (see the README). Written for Lua 5.1
-- (Argo CD's interpreter) and tested with lua5.1 and lua5.4 (test/argocd-health.test.ts).
local hs = {}
local status = obj.status

local function condition(kind)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Sluice controller to observe the Rollout"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the Sluice controller to observe generation " .. tostring(generation)
  return hs
end

local invalid = condition("InvalidSpec")
if invalid ~= nil and invalid.status == "True" then
  hs.status = "Degraded"
  hs.message = invalid.message or status.message or "Invalid spec"
  return hs
end

if status.abort == true then
  hs.status = "Degraded"
  hs.message = status.abortMessage or status.message or "Rollout aborted"
  return hs
end

local byPhase = { Healthy = "Healthy", Progressing = "Progressing", Paused = "Suspended", Degraded = "Degraded" }
hs.status = byPhase[status.phase] or "Unknown"
if hs.status == "Unknown" then
  hs.message = "Unknown phase " .. tostring(status.phase)
else
  hs.message = status.message or status.phase
end
return hs
