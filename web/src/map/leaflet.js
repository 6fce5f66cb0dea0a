// Leaflet with the marker-cluster plugin. Leaflet's build sets the global L, which the plugin
// extends (L.MarkerClusterGroup); imports run in this order.
import L from 'leaflet';
import 'leaflet.markercluster';
import 'leaflet/dist/leaflet.css';
import 'leaflet.markercluster/dist/MarkerCluster.css';

export default L;
