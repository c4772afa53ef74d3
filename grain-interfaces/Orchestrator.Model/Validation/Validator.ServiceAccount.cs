using Orchestrator.Model;

namespace Orchestrator.Validation;

/// <summary>Validation of a ServiceAccount.</summary>
public static partial class Validator
{
    public static void ServiceAccount(ServiceAccount sa, ServiceAccount? old, FieldErrors e)
    {
        // Kubernetes checks only the object meta (ValidateServiceAccount); a reference without a
        // name cannot point at anything, so say so instead of storing it.
        for (var i = 0; i < (sa.ImagePullSecrets?.Count ?? 0); i++)
        {
            if (string.IsNullOrEmpty(sa.ImagePullSecrets![i].Name))
            {
                e.Required($"imagePullSecrets[{i}].name");
            }
        }
        for (var i = 0; i < (sa.Secrets?.Count ?? 0); i++)
        {
            if (string.IsNullOrEmpty(sa.Secrets![i].Name))
            {
                e.Required($"secrets[{i}].name");
            }
        }
    }
}
