using Orchestrator.GrainInterfaces;
using Orchestrator.Grains.Resources;
using Orchestrator.Model;

namespace Orchestrator.Grains.Services;

/// <summary>The endpoints of a service: written by the service's controller (or by users for a
/// service without a selector).</summary>
[GrainType("endpoints")]
public sealed class EndpointsGrain(
    GrainServices services)
    : ResourceGrain<Endpoints>(services), IEndpointsGrain;
